// peerdesk viewer: one remote screen. WebRTC runs end to end from this page
// to the agent; the only route is the viewer's TURN relay on 127.0.0.1,
// which carries it onto the overlay. Mouse moves go on an unordered,
// no-retransmit channel; clicks, keys and control on an ordered one.
'use strict';
(function () {
  const cfg = JSON.parse(document.getElementById('cfg').dataset.config);
  const video = document.getElementById('screen');
  const status = document.getElementById('status');
  const monitorSel = document.getElementById('monitor');
  const fpsOut = document.getElementById('fps');
  let pc, pointer, input, ended = false, encoder = '';
  const say = (t) => { status.textContent = t; };

  async function api(path, body) {
    const r = await fetch(path, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Peerdesk-CSRF': cfg.csrf },
      body: JSON.stringify(body || {}),
    });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) { const e = new Error(j.message || r.statusText); e.status = r.status; throw e; }
    return j;
  }

  function gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 5000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
      });
    });
  }

  async function start() {
    say(cfg.session ? 'Waiting for the user to allow the session…' : 'Connecting…');
    // A one-time agent joins the overlay a moment after its session opens.
    let ice;
    for (let waited = 0; ; waited += 150) {
      try { ice = await api('/api/ice/' + encodeURIComponent(cfg.device)); break; } catch (e) {
        if (e.status !== 409 || waited > 60000) throw e;
        say("Waiting for the user's computer to come online…");
        await new Promise((r) => setTimeout(r, 150));
      }
    }
    pc = new RTCPeerConnection({ iceServers: [ice], iceTransportPolicy: 'relay' });
    window.peerdeskPC = pc; // for diagnostics and measurements
    pc.addTransceiver('video', { direction: 'recvonly' });
    pointer = pc.createDataChannel('pointer', { ordered: false, maxRetransmits: 0 });
    input = pc.createDataChannel('input');
    input.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.t === 'ended') finish('The session ended: ' + m.reason);
      // Which H.264 encoder the agent runs on (and why not a preferred one).
      if (m.t === 'encoder' && typeof m.encoder === 'string') { encoder = m.encoder; fpsOut.title = 'Encoder: ' + encoder; }
    };
    pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected') say('');
      if (pc.connectionState === 'failed') finish('The connection failed.');
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const ans = await api('/api/offer/' + encodeURIComponent(cfg.device), { sdp: pc.localDescription.sdp, monitor: 0 });
    monitorSel.innerHTML = '';
    (ans.monitors || []).forEach((m) => {
      const o = document.createElement('option');
      o.value = m.index; o.textContent = (m.index + 1) + ': ' + (m.name ? m.name + ' ' : '') + m.width + '×' + m.height + (m.primary ? ' (primary)' : '');
      monitorSel.appendChild(o);
    });
    if ((ans.monitors || []).length > 1) {
      const all = document.createElement('option'); all.value = -1; all.textContent = 'All'; monitorSel.appendChild(all);
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: ans.sdp });
    say('Connected; waiting for the first frame…');
    video.addEventListener('loadeddata', () => say(''), { once: true });
    video.focus();
  }

  // finish ends the page's session: the status says why, the toolbar's
  // live parts (fps, monitor, Ctrl-Alt-Del, End) stop, and the page offers
  // the way back.
  function finish(text) {
    if (ended) return;
    ended = true;
    clearInterval(ticker);
    say(text);
    if (pc) pc.close();
    fpsOut.textContent = 'ended';
    document.body.dataset.state = 'ended';
    for (const id of ['monitor', 'cad', 'end', 'connect']) {
      const el = document.getElementById(id);
      if (el) el.disabled = true;
    }
    const back = document.createElement('a');
    back.href = '/'; back.id = 'back'; back.className = 'button'; back.textContent = 'Back to the list';
    status.appendChild(document.createElement('br'));
    status.appendChild(back);
  }

  // Pixel position on the remote monitor under the pointer.
  function at(e) {
    const r = video.getBoundingClientRect();
    const vw = video.videoWidth, vh = video.videoHeight;
    if (!vw || !vh) return null;
    const scale = Math.min(r.width / vw, r.height / vh);
    const ox = r.left + (r.width - vw * scale) / 2, oy = r.top + (r.height - vh * scale) / 2;
    const x = Math.round((e.clientX - ox) / scale), y = Math.round((e.clientY - oy) / scale);
    if (x < 0 || y < 0 || x >= vw || y >= vh) return null;
    return { x, y };
  }
  const send = (ch, m) => { if (ch && ch.readyState === 'open') ch.send(JSON.stringify(m)); };

  video.addEventListener('mousemove', (e) => { const p = at(e); if (p) send(pointer, { t: 'move', x: p.x, y: p.y }); });
  video.addEventListener('mousedown', (e) => {
    e.preventDefault(); video.focus();
    const p = at(e); if (!p) return;
    send(input, { t: 'move', x: p.x, y: p.y });
    send(input, { t: 'button', x: p.x, y: p.y, b: e.button, d: true });
  });
  video.addEventListener('mouseup', (e) => {
    e.preventDefault();
    const p = at(e); if (!p) return;
    send(input, { t: 'button', x: p.x, y: p.y, b: e.button, d: false });
  });
  video.addEventListener('contextmenu', (e) => e.preventDefault());
  video.addEventListener('wheel', (e) => { e.preventDefault(); send(input, { t: 'wheel', dy: Math.sign(e.deltaY), dx: Math.sign(e.deltaX) }); }, { passive: false });
  video.addEventListener('keydown', (e) => { e.preventDefault(); send(input, { t: 'key', c: e.code, d: true }); });
  video.addEventListener('keyup', (e) => { e.preventDefault(); send(input, { t: 'key', c: e.code, d: false }); });

  monitorSel.addEventListener('change', () => send(input, { t: 'monitor', monitor: Number(monitorSel.value) }));
  const cad = document.getElementById('cad');
  if (cad) cad.addEventListener('click', () => send(input, { t: 'cad' }));
  document.getElementById('end').addEventListener('click', async () => {
    send(input, { t: 'end' });
    if (cfg.session) { try { await api('/api/end/' + encodeURIComponent(cfg.session)); } catch (_) { /* already ended */ } }
    finish('You ended the session.');
  });

  // Frames decoded per second, for the toolbar and for tests.
  let last = { t: performance.now(), frames: 0 };
  const ticker = setInterval(async () => {
    if (!pc || ended) return;
    const stats = await pc.getStats();
    if (ended) return; // the session ended while the stats were read
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        const now = performance.now();
        const fps = (s.framesDecoded - last.frames) * 1000 / (now - last.t);
        last = { t: now, frames: s.framesDecoded };
        fpsOut.textContent = isFinite(fps) ? fps.toFixed(0) + ' fps' : '';
        window.peerdeskStats = { framesDecoded: s.framesDecoded, fps: fps, bytesReceived: s.bytesReceived, keyFramesDecoded: s.keyFramesDecoded, encoder: encoder };
      }
      if (s.type === 'candidate-pair') {
        window.peerdeskICE = (window.peerdeskICE || {});
        window.peerdeskICE[s.id] = { state: s.state, sent: s.requestsSent, recv: s.responsesReceived, nominated: s.nominated };
      }
      if (s.type === 'local-candidate' || s.type === 'remote-candidate') {
        window.peerdeskICE = (window.peerdeskICE || {});
        window.peerdeskICE[s.id] = { type: s.type, cand: s.candidateType, addr: s.address, port: s.port, proto: s.protocol };
      }
    });
  }, 1000);

  const go = () => start().catch((err) => finish('Could not connect: ' + err.message));
  // Reached from another site (the dashboard's Connect): wait for the
  // technician's own click.
  const confirm = document.getElementById('connect');
  if (confirm) confirm.addEventListener('click', go, { once: true }); else go();
})();
