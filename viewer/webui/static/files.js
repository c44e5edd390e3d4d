// peerdesk viewer: a machine's files. Uploads (file picker, or files
// and folders dropped anywhere on the page) go in a queue, one file at a
// time, in chunks the agent asks for (4 MiB): each chunk carries its
// SHA-256 and the agent checks it as it arrives; the upload starts with
// a fingerprint of the file, its whole SHA-256 is computed as the chunks
// are confirmed and sent at the finish, and the agent checks it before
// the file takes its name.
// When a chunk fails (the link dropped, the viewer gave up on a stalled
// call) the queue asks the agent where the upload stands and continues
// from its last confirmed chunk. A dropped folder is made on the machine
// (the agent makes no parent folders) before the files it holds, which
// go in the queue under their paths in it. Downloads are plain links:
// the viewer streams them from the agent and resumes them itself.
'use strict';
(function () {
  const cfg = JSON.parse(document.getElementById('cfg').dataset.config);
  const api = '/api/files/' + encodeURIComponent(cfg.device);
  const queueBox = document.getElementById('queue-box');
  const queueList = document.getElementById('queue');
  const queue = [];
  let running = false;
  let paused = false;
  // pauseAt(n): the queue pauses by itself before the next chunk once an
  // upload has n bytes on the machine (tests stop a transfer half-way).
  let pauseAt = 0;
  window.peerdeskFiles = { queue: queue, pause: () => setPaused(true), resume: () => setPaused(false), pauseAt: (n) => { pauseAt = n; } };

  // ---- SHA-256, incremental (crypto.subtle hashes whole buffers only).
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  function Sha256() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.buf = new Uint8Array(64); this.n = 0; this.len = 0; this.w = new Uint32Array(64);
  }
  Sha256.prototype.block = function (p, o) {
    const w = this.w, h = this.h;
    for (let i = 0; i < 16; i++) w[i] = (p[o + 4 * i] << 24) | (p[o + 4 * i + 1] << 16) | (p[o + 4 * i + 2] << 8) | p[o + 4 * i + 3];
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  };
  Sha256.prototype.update = function (p) {
    let i = 0;
    this.len += p.length;
    if (this.n > 0) {
      while (this.n < 64 && i < p.length) this.buf[this.n++] = p[i++];
      if (this.n < 64) return;
      this.block(this.buf, 0); this.n = 0;
    }
    for (; i + 64 <= p.length; i += 64) this.block(p, i);
    while (i < p.length) this.buf[this.n++] = p[i++];
  };
  Sha256.prototype.hex = function () {
    const bits = this.len * 8;
    const pad = new Uint8Array(((this.n < 56) ? 56 : 120) - this.n + 8);
    pad[0] = 0x80;
    const dv = new DataView(pad.buffer);
    dv.setUint32(pad.length - 8, Math.floor(bits / 0x100000000));
    dv.setUint32(pad.length - 4, bits >>> 0);
    this.update(pad);
    return Array.from(this.h, (x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
  };
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

  // ---- the queue on the page.
  function size(n) {
    if (n >= 1 << 30) return (n / (1 << 30)).toFixed(2) + ' GiB';
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MiB';
    if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + ' KiB';
    return n + ' B';
  }
  function draw(it) {
    if (!it.li) {
      it.li = document.createElement('li');
      it.li.className = 'transfer';
      it.bar = document.createElement('progress');
      it.bar.max = 1;
      it.text = document.createElement('span');
      it.li.append(it.bar, ' ', it.text);
      queueList.append(it.li);
      queueBox.hidden = false;
    }
    it.li.dataset.state = it.state;
    it.li.dataset.name = it.name;
    it.bar.value = it.size ? it.done / it.size : 1;
    let t = it.name + ' — ' + it.state;
    if (it.state === 'sending' || it.state === 'retrying') {
      t += ' ' + size(it.done) + ' of ' + size(it.size);
      if (it.speed) t += ', ' + size(it.speed) + '/s';
    }
    if (it.state === 'done') t += it.dir ? (it.existed ? ' (the folder was already there)' : ' (folder made)') : ' (' + size(it.size) + ', SHA-256 checked by the agent)';
    if (it.error) t += ': ' + it.error;
    it.text.textContent = t;
  }
  function setPaused(p) {
    paused = p;
    const b = document.getElementById('pause');
    if (b) b.textContent = p ? 'Resume' : 'Pause';
    if (!p) run();
  }
  const pauseBtn = document.createElement('button');
  pauseBtn.id = 'pause';
  pauseBtn.type = 'button';
  pauseBtn.textContent = 'Pause';
  pauseBtn.addEventListener('click', () => setPaused(!paused));
  queueBox.querySelector('h2').after(pauseBtn);

  const here = cfg.path === '/' ? '' : cfg.path;
  // item is a queue entry for rel (a path under this folder); parent is
  // the dropped folder's entry it goes into, if any.
  function item(rel, file, parent) {
    return { file: file, name: rel, path: here + '/' + rel, size: file ? file.size : 0, done: 0, sent: 0, state: 'waiting', tries: 0, overwrite: false, parent: parent };
  }
  function add(it) { queue.push(it); draw(it); }
  function enqueue(files) {
    for (const file of files) add(item(file.name, file));
    run();
  }
  // enqueueTree puts dropped entries in the queue, each folder before
  // what it holds (the queue goes in order), empty ones too. The queue
  // runs as they are read: a large tree starts uploading at once.
  async function enqueueTree(entries) {
    const walk = async (en, pre, parent) => {
      const rel = pre + en.name;
      try {
        if (en.isFile) {
          add(item(rel, await new Promise((ok, no) => en.file(ok, no)), parent));
          run();
          return;
        }
        const dir = Object.assign(item(rel, null, parent), { dir: true, name: rel + '/' });
        add(dir);
        run();
        // readEntries answers in batches, and an empty one at the end.
        const rd = en.createReader();
        for (;;) {
          const batch = await new Promise((ok, no) => rd.readEntries(ok, no));
          if (!batch.length) break;
          for (const c of batch) await walk(c, rel + '/', dir);
        }
      } catch (e) {
        const it = item(rel, null, parent);
        it.state = 'failed'; it.error = 'it could not be read here (' + (e.message || e.name) + ')';
        add(it);
      }
    };
    for (const en of entries) await walk(en, '', null);
    run();
  }

  // call is a JSON call to the page's API; a refusal throws with the
  // agent's code and words.
  async function call(path, body) {
    let r;
    try {
      r = await fetch(api + path, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-Peerdesk-CSRF': cfg.csrf },
        body: JSON.stringify(body),
      });
    } catch (e) { throw Object.assign(new Error('the viewer did not answer'), { retry: true }); }
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw refusal(r.status, j);
    return j;
  }
  function refusal(status, j) {
    const e = new Error(j.message || ('HTTP ' + status));
    e.code = j.code;
    // The link or the agent, not a refusal: try again from where the
    // agent stands.
    e.retry = j.code === 'internal' || status === 502 || status === 504 ||
      (j.code === 'conflict' && /ask where it stands/.test(j.message || ''));
    return e;
  }
  function put(it, st, buf, sha) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open('PUT', api + '/upload/chunk?id=' + encodeURIComponent(st.id) + '&offset=' + st.offset + '&size=' + st.size);
      x.setRequestHeader('X-Peerdesk-CSRF', cfg.csrf);
      x.setRequestHeader('X-Peerdesk-Chunk-Sha256', sha);
      x.upload.onprogress = (e) => { it.done = st.offset + e.loaded; tick(it); };
      x.onload = () => {
        let j = {};
        try { j = JSON.parse(x.responseText); } catch (e) { /* not JSON */ }
        if (x.status === 200) resolve(j); else reject(refusal(x.status, j));
      };
      x.onerror = () => reject(Object.assign(new Error('the viewer did not answer'), { retry: true }));
      it.sent += buf.byteLength;
      x.send(buf);
    });
  }
  function tick(it) {
    const now = performance.now();
    if (!it.t0) { it.t0 = now; it.b0 = it.done; }
    if (now - it.t0 > 250) it.speed = (it.done - it.b0) / ((now - it.t0) / 1000);
    if (now - (it.drawn || 0) > 100) { it.drawn = now; draw(it); }
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const waitWhilePaused = async () => { while (paused) await sleep(100); };
  const backoff = (tries) => sleep(Math.min(500 * (1 << Math.min(tries - 1, 3)), 4000));

  // makeDir makes a dropped folder through the page's own form, which
  // answers a redirect when it is made and the page with its error when
  // not. A folder already there will do: the files go into it.
  async function makeDir(it) {
    const slash = it.path.lastIndexOf('/');
    const form = new URLSearchParams({ dir: it.path.slice(0, slash) || '/', name: it.path.slice(slash + 1) });
    for (;;) {
      if (paused) { it.state = 'paused'; draw(it); await waitWhilePaused(); }
      let r = null, msg = 'the viewer did not answer';
      try {
        r = await fetch('/device/' + encodeURIComponent(cfg.device) + '/files/mkdir', {
          method: 'POST', credentials: 'same-origin', redirect: 'manual',
          headers: { 'X-Peerdesk-CSRF': cfg.csrf }, body: form,
        });
      } catch (e) { /* retried below */ }
      if (r && r.type === 'opaqueredirect') { it.state = 'done'; it.error = ''; draw(it); return; }
      if (r) {
        const doc = new DOMParser().parseFromString(await r.text().catch(() => ''), 'text/html');
        const p = doc.getElementById('error');
        msg = p ? p.textContent.replace(/^Not done: /, '') : 'HTTP ' + r.status;
        if (r.status === 400 && /already exists/.test(msg)) { it.existed = true; it.state = 'done'; it.error = ''; draw(it); return; }
      }
      // No answer, or the link or the agent (502): try again.
      if ((r && r.status !== 502 && r.status !== 504) || ++it.tries > 60) { it.state = 'failed'; it.error = msg; draw(it); return; }
      it.state = 'retrying'; it.error = msg; draw(it);
      await backoff(it.tries);
    }
  }

  // fingerprint names the file's content at the start without reading
  // all of it (its size, time, first and last chunk); the whole file's
  // SHA-256 is computed as the chunks go and sent at the finish.
  async function fingerprint(it) {
    const head = await it.file.slice(0, Math.min(it.size, 4 << 20)).arrayBuffer();
    const tail = await it.file.slice(Math.max(head.byteLength, it.size - (4 << 20)), it.size).arrayBuffer();
    const meta = new TextEncoder().encode('peerdesk-page-fingerprint\0' + it.size + '\0' + it.file.lastModified + '\0');
    const all = new Uint8Array(meta.length + head.byteLength + tail.byteLength);
    all.set(meta, 0); all.set(new Uint8Array(head), meta.length); all.set(new Uint8Array(tail), meta.length + head.byteLength);
    return hex(await crypto.subtle.digest('SHA-256', all));
  }
  // hashTo brings the whole file's hash at least to offset o (bytes the
  // agent took whose answers were lost are read again here).
  async function hashTo(it, o) {
    if (!it.whole) { it.whole = new Sha256(); it.hashed = 0; }
    while (it.hashed < o) {
      const end = Math.min(o, it.hashed + (4 << 20));
      it.whole.update(new Uint8Array(await it.file.slice(it.hashed, end).arrayBuffer()));
      it.hashed = end;
    }
  }

  async function upload(it) {
    let start = { path: it.path, size: it.size, fingerprint: await fingerprint(it), overwrite: it.overwrite };
    let st = null;
    for (;;) {
      if (pauseAt > 0 && it.done >= pauseAt) { pauseAt = 0; setPaused(true); }
      if (paused) { it.state = 'paused'; draw(it); await waitWhilePaused(); }
      try {
        if (!st) {
          start.overwrite = it.overwrite;
          try {
            st = await call('/upload/start', start);
          } catch (e) {
            if (e.code !== 'bad_request' || !start.fingerprint) throw e;
            // An agent from before fingerprints: the file hashed first.
            it.state = 'hashing'; draw(it);
            await hashTo(it, it.size);
            start = { path: it.path, size: it.size, sha256: it.whole.hex(), overwrite: it.overwrite };
            st = await call('/upload/start', start);
          }
          it.done = st.offset;
          if (it.failedAt !== undefined && it.resumedAt === undefined) it.resumedAt = st.offset;
        }
        if (st.offset >= st.size) {
          const fin = { id: st.id };
          if (start.fingerprint) { await hashTo(it, st.size); fin.sha256 = it.whole.hex(); }
          await call('/upload/finish', fin);
          it.done = it.size; it.state = 'done'; it.error = ''; draw(it);
          return;
        }
        it.state = 'sending'; draw(it);
        const buf = await it.file.slice(st.offset, Math.min(st.offset + st.chunk, st.size)).arrayBuffer();
        const sha = hex(await crypto.subtle.digest('SHA-256', buf));
        const at = st.offset;
        st = await put(it, st, buf, sha);
        if (start.fingerprint) {
          // The chunk just confirmed goes into the file's hash.
          await hashTo(it, at);
          if (it.hashed === at) { it.whole.update(new Uint8Array(buf)); it.hashed = at + buf.byteLength; }
        }
        it.done = st.offset; it.tries = 0; tick(it);
      } catch (e) {
        if (!e.retry || ++it.tries > 60) {
          it.state = 'failed'; it.error = e.message; draw(it);
          if (e.code === 'conflict' && /already exists/.test(e.message)) offerOverwrite(it);
          return;
        }
        it.state = 'retrying'; it.error = e.message; draw(it);
        if (st && it.failedAt === undefined) it.failedAt = st.offset; // confirmed when the first try failed
        st = null; // ask the agent where the upload stands
        await backoff(it.tries);
      }
    }
  }
  function offerOverwrite(it) {
    const b = document.createElement('button');
    b.type = 'button'; b.className = 'overwrite'; b.textContent = 'Overwrite';
    b.addEventListener('click', () => {
      b.remove(); it.overwrite = true; it.state = 'waiting'; it.error = ''; it.tries = 0;
      queue.push(queue.splice(queue.indexOf(it), 1)[0]); draw(it); run();
    });
    it.li.append(' ', b);
  }
  async function run() {
    if (running) return;
    running = true;
    try {
      for (;;) {
        const it = queue.find((q) => q.state === 'waiting');
        if (!it) break;
        if (it.parent && it.parent.state === 'failed') {
          it.state = 'failed'; it.error = 'its folder ' + it.parent.name + ' could not be made'; draw(it);
        } else if (it.dir) await makeDir(it);
        else await upload(it);
      }
    } finally { running = false; }
    refreshListing();
  }
  // The listing again, without leaving the page (the queue stays).
  async function refreshListing() {
    const r = await fetch(location.href, { credentials: 'same-origin' }).catch(() => null);
    if (!r || !r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
    const fresh = doc.getElementById('listing');
    if (fresh) document.getElementById('listing').replaceWith(document.adoptNode(fresh));
  }

  document.getElementById('picker').addEventListener('change', (e) => { enqueue(e.target.files); e.target.value = ''; });
  document.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dragging'); });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const dt = e.dataTransfer;
    if (!dt) return;
    // A folder comes only as an entry (its File is the folder itself,
    // which cannot be read), and the entries are gone once this handler
    // returns: they are taken now and walked after.
    const entries = Array.from(dt.items || [], (i) => (i.kind === 'file' && i.webkitGetAsEntry ? i.webkitGetAsEntry() : null)).filter((en) => en);
    if (entries.some((en) => en.isDirectory)) enqueueTree(entries);
    else if (dt.files.length) enqueue(dt.files);
  });
  // Deleting asks first.
  for (const f of document.querySelectorAll('form .delete')) {
    f.closest('form').addEventListener('submit', (e) => {
      const p = f.closest('form').querySelector('[name=path]').value;
      if (!window.confirm('Delete ' + p + '?')) e.preventDefault();
    });
  }
})();
