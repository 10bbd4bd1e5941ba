// phivault telehealth page: joins a call through the phivault API, exchanges sealed key
// packages, signals over the WebSocket relay and wires WebRTC. All cryptography happens in
// worker.js (WebAssembly); this script only moves public data around.
//
// Protocol (see crates/phivault-server/src/http/telehealth.rs):
//   POST   /v1/telehealth/sessions/{id}/devices        register this device's public key
//   GET    /v1/telehealth/sessions/{id}                roster (devices, users, public keys)
//   GET    /v1/telehealth/sessions/{id}/signal?device  WebSocket: notices, SDP, ICE
//   POST   /v1/telehealth/sessions/{id}/key-packages   sealed epoch secrets for other devices
//   GET    /v1/telehealth/sessions/{id}/key-packages   the packages sealed for this device
// Key schedule: the first device starts epoch 0; on `device_joined` every member ratchets
// (join) and the member with the smallest device id seals the new epoch for the newcomer,
// after telling it the roster (`epoch` message); on `participant_removed` the device the
// server names in `rekey_by` starts a fresh epoch for the remaining devices.

const $ = (id) => document.getElementById(id);

const worker = new Worker('worker.js', { type: 'module' });
let seq = 0;
const waiting = new Map();
worker.onmessage = (e) => {
  const { id, ok, result, error } = e.data;
  const w = waiting.get(id);
  if (!w) return;
  waiting.delete(id);
  if (ok) w.resolve(result); else w.reject(new Error(error));
};
function op(name, args) {
  return new Promise((resolve, reject) => {
    seq += 1;
    waiting.set(seq, { resolve, reject });
    worker.postMessage({ id: seq, op: name, args });
  });
}

const state = {
  phase: 'idle',
  session: null,
  token: null, // kept in memory only (never in a URL or in storage)
  device: null,
  user: null,
  ws: null,
  local: null,
  peers: new Map(), // device id -> { pc, video, pendingIce: [] }
  epochRosters: new Map(), // epoch -> roster announced by the admitting device
  packages: [], // sealed packages fetched but not yet installed
  queuedJoins: [], // device_joined notices received before this device had keys
  nextRoster: null, // roster of the epoch a removal announced
  admitted: new Map(), // newcomer device id -> the `epoch` message this device sent it
  keyed: false,
  errors: [],
  // For deployments and tests: `loopbackOnly` signals only 127.0.0.1/::1 ICE candidates;
  // `keepRemovedPeers` keeps sending to a removed device (as an SFU that has not been told
  // would), `keepKeysWhenRemoved` makes this page ignore its own removal (as a hostile client
  // would). The last two exist to show that SFrame, not politeness, keeps removed users out.
  options: { loopbackOnly: false, keepRemovedPeers: false, keepKeysWhenRemoved: false },
};

function setPhase(phase, text) {
  state.phase = phase;
  document.body.dataset.phase = phase;
  $('status').textContent = text ?? phase.replaceAll('_', ' ');
}

function fail(e) {
  const msg = e instanceof Error ? e.message : String(e);
  state.errors.push(msg);
  $('status').textContent = `Error: ${msg}`;
}

const base = () => `/v1/telehealth/sessions/${encodeURIComponent(state.session)}`;

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store', credentials: 'omit',
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} answered ${r.status} ${j?.error?.code ?? ''}`.trim());
  return j;
}

function signal(msg) {
  if (state.ws?.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function connectSignal() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${location.host}${base()}/signal?device=${encodeURIComponent(state.device)}`;
  // The token rides in the subprotocol list, never in the URL (see http/auth.rs).
  const ws = new WebSocket(url, ['phivault.bearer', `phivault.bearer.${state.token}`]);
  state.ws = ws;
  let chain = Promise.resolve();
  ws.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch (_) { return; }
    // One message at a time: epoch changes must be applied in the order the hub sent them.
    chain = chain.then(() => onSignal(msg)).catch(fail);
  };
  ws.onclose = () => { if (state.phase !== 'removed') setPhase('disconnected', 'Signalling closed.'); };
  return new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('signalling socket failed'));
  });
}

async function postPackages(packages) {
  if (packages.length === 0) return;
  await api('POST', `${base()}/key-packages`, { device: state.device, packages });
}

async function fetchPackages() {
  const { packages } = await api('GET', `${base()}/key-packages?device=${encodeURIComponent(state.device)}`);
  state.packages.push(...packages);
  await installPackages();
}

async function keyedNow(s) {
  state.keyed = true;
  setPhase('keyed', `In the call, epoch ${s.epoch}.`);
  await showSafetyNumbers();
}

async function installPackages() {
  const rest = [];
  for (const pkg of state.packages) {
    if (!state.keyed) {
      const roster = state.epochRosters.get(pkg.epoch);
      if (!roster) { rest.push(pkg); continue; } // the admitting device's `epoch` message is due
      const s = await op('join', { pkg, roster });
      const inRoster = new Set(roster.map((p) => p.device));
      const later = state.queuedJoins.filter((p) => !inRoster.has(p.device) && p.device !== state.device);
      state.queuedJoins = [];
      await keyedNow(s);
      if (later.length) await admit(later);
    } else {
      const { epoch } = await op('state');
      if (pkg.epoch <= epoch) continue; // superseded
      const s = await op('accept', { pkg, roster: state.nextRoster });
      state.nextRoster = null;
      setPhase('keyed', `In the call, epoch ${s.epoch}.`);
      await showSafetyNumbers();
    }
  }
  state.packages = rest;
}

async function admit(joining) {
  const before = (await op('state')).roster;
  // Every member ratchets; the smallest device id of the old roster seals for the newcomers.
  const seal = before[0] === state.device;
  const r = await op('admit', { joining, seal });
  if (seal) {
    for (const p of joining) {
      const note = { type: 'epoch', to: p.device, epoch: r.epoch, roster: r.rosterJson };
      // Sent again on the newcomer's `hello`: its socket may not be open yet.
      state.admitted.set(p.device, note);
      signal(note);
    }
    await postPackages(r.packages);
  }
  setPhase('keyed', `In the call, epoch ${r.epoch}.`);
  await showSafetyNumbers();
}

async function onSignal(msg) {
  switch (msg.type) {
    case 'device_joined': {
      if (msg.device === state.device) return;
      const p = { device: msg.device, user: msg.user, public_key: msg.public_key };
      if (!state.keyed) { state.queuedJoins.push(p); return; }
      await admit([p]);
      return;
    }
    case 'hello': {
      // A device whose socket just opened: the members already here make the offer.
      if (msg.from_device === state.device) return;
      const note = state.admitted.get(msg.from_device);
      if (note) { state.admitted.delete(msg.from_device); signal(note); }
      await offerTo(msg.from_device);
      return;
    }
    case 'offer': return onOffer(msg);
    case 'answer': return onAnswer(msg);
    case 'ice': return onIce(msg);
    case 'epoch':
      state.epochRosters.set(msg.epoch, msg.roster);
      await installPackages();
      return;
    case 'key_packages':
      await fetchPackages();
      return;
    case 'participant_removed': return onRemoved(msg);
    default:
  }
}

async function onRemoved(msg) {
  if (msg.devices.includes(state.device)) {
    if (!state.options.keepKeysWhenRemoved) {
      await op('forget');
      for (const id of [...state.peers.keys()]) closePeer(id);
    }
    setPhase('removed', 'You were removed from the call.');
    return;
  }
  if (!state.options.keepRemovedPeers) for (const d of msg.devices) closePeer(d);
  state.nextRoster = msg.roster;
  if (msg.rekey_by === state.device && state.keyed) {
    const r = await op('remove', { user: msg.user });
    state.nextRoster = null;
    await postPackages(r.packages);
    setPhase('keyed', `In the call, epoch ${r.epoch}.`);
  }
}

// ---- WebRTC -------------------------------------------------------------------------

function candidateAllowed(c) {
  if (!state.options.loopbackOnly) return true;
  return c.address === '127.0.0.1' || c.address === '::1';
}

function preferVp8(pc) {
  const caps = RTCRtpReceiver.getCapabilities('video');
  if (!caps) return;
  const vp8 = caps.codecs.filter((c) => c.mimeType === 'video/VP8');
  const rest = caps.codecs.filter((c) => c.mimeType !== 'video/VP8');
  for (const t of pc.getTransceivers()) {
    if (t.receiver.track?.kind === 'video') t.setCodecPreferences([...vp8, ...rest]);
  }
}

function remoteVideo(id) {
  const fig = document.createElement('figure');
  const video = document.createElement('video');
  video.autoplay = true; video.muted = true; video.playsInline = true;
  video.dataset.peer = id;
  const cap = document.createElement('figcaption');
  cap.textContent = `Device ${id}`;
  fig.append(video, cap);
  $('remotes').append(fig);
  return { fig, video };
}

function peer(id) {
  let p = state.peers.get(id);
  if (p) return p;
  // No STUN or TURN server: this page only connects peers that can reach each other
  // directly; a deployment adds its TURN server here.
  const pc = new RTCPeerConnection({ iceServers: [] });
  const { fig, video } = remoteVideo(id);
  p = { pc, fig, video, pendingIce: [] };
  state.peers.set(id, p);
  pc.onicecandidate = (e) => {
    if (e.candidate && candidateAllowed(e.candidate)) {
      signal({ type: 'ice', to: id, candidate: e.candidate.toJSON() });
    }
  };
  const recvTransform = (kind) => new RTCRtpScriptTransform(worker, { side: 'recv', kind, peer: id });
  pc.ontrack = (e) => {
    if (!e.receiver.transform) e.receiver.transform = recvTransform(e.track.kind);
    if (e.track.kind === 'video') video.srcObject = new MediaStream([e.track]);
  };
  for (const track of state.local.getTracks()) {
    const sender = pc.addTrack(track, state.local);
    // The receiver's transform goes on before the sender's: Chromium (156) delivers no
    // frames to a receiver transform set after its transceiver's sender transform.
    const t = pc.getTransceivers().find((x) => x.sender === sender);
    t.receiver.transform = recvTransform(track.kind);
    sender.transform = new RTCRtpScriptTransform(worker, { side: 'send', kind: track.kind });
  }
  preferVp8(pc);
  return p;
}

function closePeer(id) {
  const p = state.peers.get(id);
  if (!p) return;
  p.pc.close();
  p.fig.remove();
  state.peers.delete(id);
}

async function offerTo(id) {
  if (state.peers.has(id)) return;
  const p = peer(id);
  await p.pc.setLocalDescription(await p.pc.createOffer());
  signal({ type: 'offer', to: id, sdp: p.pc.localDescription.sdp });
}

async function flushIce(p) {
  for (const c of p.pendingIce.splice(0)) await p.pc.addIceCandidate(c);
}

async function onOffer(msg) {
  const p = peer(msg.from_device);
  await p.pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
  preferVp8(p.pc);
  await p.pc.setLocalDescription(await p.pc.createAnswer());
  signal({ type: 'answer', to: msg.from_device, sdp: p.pc.localDescription.sdp });
  await flushIce(p);
}

async function onAnswer(msg) {
  const p = state.peers.get(msg.from_device);
  if (!p) return;
  await p.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
  await flushIce(p);
}

async function onIce(msg) {
  const p = state.peers.get(msg.from_device);
  if (!p || !msg.candidate) return;
  if (p.pc.remoteDescription) await p.pc.addIceCandidate(msg.candidate);
  else p.pendingIce.push(msg.candidate);
}

// ---- Joining --------------------------------------------------------------------------

async function showSafetyNumbers() {
  const list = $('safety');
  const info = await api('GET', base());
  const items = [];
  for (const p of info.roster) {
    if (p.device === state.device) continue;
    const n = await op('safetyNumber', { publicKey: p.public_key });
    const li = document.createElement('li');
    li.textContent = `${p.user} (${p.device}): ${n}`;
    items.push(li);
  }
  list.replaceChildren(...items);
}

async function join(sessionId, token) {
  if (state.phase !== 'idle') throw new Error('already joined');
  state.session = sessionId;
  state.token = token;
  setPhase('media', 'Starting camera and microphone…');
  state.local = await navigator.mediaDevices.getUserMedia({
    video: { width: 320, height: 240, frameRate: 30 }, audio: true,
  });
  $('local').srcObject = state.local;
  setPhase('registering', 'Registering this device…');
  const { publicKey } = await op('generate');
  const { device_id: device } = await api('POST', `${base()}/devices`, { public_key: publicKey });
  state.device = device;
  await op('open', { sessionId, deviceId: device });
  await connectSignal();
  const info = await api('GET', base());
  state.user = info.roster.find((p) => p.device === device)?.user ?? null;
  if (info.roster.length === 1) {
    const s = await op('start', { roster: info.roster });
    await keyedNow(s);
  } else {
    setPhase('waiting_for_keys', 'Waiting for a participant to send the call keys…');
    await fetchPackages();
  }
  signal({ type: 'hello' });
  // The periodic fresh epoch (at least every 10 minutes): the first device of the roster
  // starts it; the others accept its packages.
  setInterval(() => {
    op('state').then(async (s) => {
      if (!state.keyed || s.roster[0] !== state.device) return;
      const r = await op('rekeyIfDue');
      if (r) { await postPackages(r.packages); setPhase('keyed', `In the call, epoch ${r.epoch}.`); }
    }).catch(fail);
  }, 15000);
}

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const session = $('session').value.trim();
  const token = $('token').value.trim();
  $('token').value = '';
  join(session, token).catch(fail);
});

// ---- Inspection (public data only: counters, states, colours) -------------------------

// Mean colour of four vertical bands of a video, on a 64x48 downscale.
function bandColours(video) {
  if (!video || !video.videoWidth) return null;
  const c = new OffscreenCanvas(64, 48);
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(video, 0, 0, 64, 48);
  const d = g.getImageData(0, 0, 64, 48).data;
  const bands = [];
  for (let b = 0; b < 4; b += 1) {
    const sum = [0, 0, 0];
    let n = 0;
    for (let y = 12; y < 36; y += 1) {
      for (let x = b * 16 + 4; x < b * 16 + 12; x += 1) {
        const i = (y * 64 + x) * 4;
        sum[0] += d[i]; sum[1] += d[i + 1]; sum[2] += d[i + 2]; n += 1;
      }
    }
    bands.push(sum.map((v) => Math.round(v / n)));
  }
  return bands;
}

async function stats() {
  const worker = await op('stats');
  const call = await op('state');
  const peers = {};
  for (const [id, p] of state.peers) {
    const report = await p.pc.getStats();
    let video = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        video = { framesDecoded: s.framesDecoded ?? 0, framesReceived: s.framesReceived ?? 0, keyFramesDecoded: s.keyFramesDecoded ?? 0 };
      }
    });
    peers[id] = { connection: p.pc.connectionState, video, colours: bandColours(p.video) };
  }
  return {
    phase: state.phase, device: state.device, user: state.user, keyed: state.keyed,
    call, worker, peers, local: bandColours($('local')), errors: state.errors,
  };
}

function configure(options) {
  Object.assign(state.options, options);
}

window.phivault = Object.freeze({ stats, configure, phase: () => state.phase });
