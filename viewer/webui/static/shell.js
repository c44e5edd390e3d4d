// The technician's terminal on a remote machine: xterm.js in the page, a
// WebSocket to the viewer (same origin), which carries wire shell frames to
// the agent over the overlay. One byte of type, then the payload:
// 'i' typed, 'r' size (cols, rows: big-endian uint16), 'o'/'E' output,
// 'x' the exit status (JSON), last.
(() => {
  'use strict';
  const cfg = JSON.parse(document.getElementById('cfg').dataset.config);
  const status = document.getElementById('status');
  const box = document.getElementById('term');
  const restyle = window.peerdeskAdoptStyles(box);
  const term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000, allowProposedApi: false });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  restyle();
  fit.fit();
  window.peerdeskTerm = term; // tests read the buffer through it
  window.peerdeskFit = fit;

  const maxFrame = 32 << 10;
  const frame = (type, payload) => {
    const b = new Uint8Array(1 + payload.length);
    b[0] = type.charCodeAt(0);
    b.set(payload, 1);
    return b;
  };
  const sizeFrame = (cols, rows) => {
    const p = new Uint8Array(4);
    const d = new DataView(p.buffer);
    d.setUint16(0, cols);
    d.setUint16(2, rows);
    return frame('r', p);
  };
  const q = new URLSearchParams({ cols: String(term.cols), rows: String(term.rows) });
  if (cfg.shell) q.set('shell', cfg.shell);
  const ws = new WebSocket(`ws://${location.host}/api/shell/${encodeURIComponent(cfg.device)}?${q}`);
  ws.binaryType = 'arraybuffer';
  let ended = false;
  const say = (text, cls) => {
    status.textContent = text;
    status.className = cls || '';
  };
  say('Connecting…');
  ws.onopen = () => {
    say('Connected', 'ok');
    term.focus();
  };
  const utf8 = new TextDecoder();
  ws.onmessage = (ev) => {
    const b = new Uint8Array(ev.data);
    if (b.length === 0) return;
    const t = String.fromCharCode(b[0]);
    if (t === 'o' || t === 'E') {
      term.write(b.subarray(1));
    } else if (t === 'x') {
      const ex = JSON.parse(utf8.decode(b.subarray(1)));
      window.peerdeskShellExit = ex;
      ended = true;
      term.options.disableStdin = true;
      if (ex.reason === 'exited') {
        say(`The shell exited with status ${ex.code}.`);
      } else if (ex.reason === 'failed' && ex.code === -1 && !ex.signal) {
        say(`No shell: ${ex.message}`, 'err');
      } else {
        say(`The shell was ended (${ex.reason})${ex.message ? ': ' + ex.message : ''}.`, 'err');
      }
    }
  };
  ws.onclose = () => {
    if (!ended) say('Disconnected from the machine.', 'err');
  };
  const enc = new TextEncoder();
  const send = (bytes) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    for (let i = 0; i < bytes.length; i += maxFrame) ws.send(frame('i', bytes.subarray(i, i + maxFrame)));
  };
  term.onData((d) => send(enc.encode(d)));
  term.onBinary((d) => send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
  term.onResize(({ cols, rows }) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(sizeFrame(cols, rows));
  });
  ws.addEventListener('open', () => ws.send(sizeFrame(term.cols, term.rows)));
  new ResizeObserver(() => fit.fit()).observe(box);
  window.addEventListener('resize', () => fit.fit());
  document.getElementById('end').addEventListener('click', () => {
    ws.close();
    say('Ended.', 'err');
    ended = true;
  });
})();
