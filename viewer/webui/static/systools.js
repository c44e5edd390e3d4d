// peerdesk viewer: a machine's system tools. Every list comes from the
// agent over the overlay through the viewer's /api/system routes, each with
// a grant for its own capability; a refusal is shown in words.
'use strict';
(function () {
  const cfg = JSON.parse(document.getElementById('cfg').dataset.config);
  const base = '/api/system/' + encodeURIComponent(cfg.device);
  const $ = (id) => document.getElementById(id);

  async function api(method, path, body) {
    const opt = { method, credentials: 'same-origin', headers: { 'X-Peerdesk-CSRF': cfg.csrf } };
    if (body !== undefined) {
      opt.headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body);
    }
    const r = await fetch(base + path, opt);
    if (!r.ok) {
      const j = await r.json().catch(() => ({}));
      const e = new Error(j.message || r.statusText);
      e.status = r.status;
      throw e;
    }
    return r;
  }

  // Each tab's tool is its own capability: a refusal names it.
  const tools = { proc: 'processes', svc: 'services', app: 'applications', log: 'event logs' };
  function refusal(id, e) {
    if (e.status === 403) return 'Not allowed to use ' + tools[id.split('-')[0]] + ' on this machine: ' + e.message;
    return e.message;
  }

  function showError(id, e) {
    const el = $(id);
    if (!e) { el.hidden = true; el.textContent = ''; return; }
    el.textContent = refusal(id, e);
    el.hidden = false;
  }

  function cell(tr, text, cls, tag) {
    const td = document.createElement(tag || 'td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function bytes(n) {
    if (!n) return '';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }

  // One formatter for every time shown (a new one per row costs more than
  // the row).
  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
  function when(ms) { return dateFmt.format(ms); }

  // ---- tabs ----
  const tabs = Array.from(document.querySelectorAll('.tabs button'));
  let current = 'processes';
  function select(name) {
    current = name;
    for (const b of tabs) {
      const on = b.dataset.tab === name;
      b.setAttribute('aria-selected', on ? 'true' : 'false');
      $(b.dataset.tab).hidden = !on;
    }
    if (name === 'processes') refreshProcesses();
    if (name === 'services') loadServices();
    if (name === 'apps' && !appsLoaded) loadApps();
  }
  for (const b of tabs) b.addEventListener('click', () => select(b.dataset.tab));

  // ---- processes: live, sortable, filterable ----
  let procs = [];
  let sortKey = 'cpu', sortDesc = true, procTimer = null, procBusy = false, procStopped = false;
  const procRows = $('proc-rows');
  const procHeads = Array.from(document.querySelectorAll('#proc-table [data-key]'));

  function procMatches(p, f) {
    if (!f) return true;
    return String(p.pid) === f || (p.name || '').toLowerCase().includes(f) ||
      (p.user || '').toLowerCase().includes(f) || (p.command || '').toLowerCase().includes(f);
  }

  function compare(a, b) {
    const x = a[sortKey], y = b[sortKey];
    let c;
    if (typeof x === 'number' || typeof y === 'number') c = (x || 0) - (y || 0);
    else c = String(x || '').localeCompare(String(y || ''));
    if (c === 0) c = a.pid - b.pid;
    return sortDesc ? -c : c;
  }

  // Rows are kept per process (its id and start time) and only their
  // changing cells are rewritten, so the live refresh of a long list
  // rebuilds nothing.
  let rowCache = new Map();
  // A new row is a clone of this one, filled in.
  const rowProto = (() => {
    const tr = document.createElement('div');
    tr.className = 'grid-row';
    tr.setAttribute('role', 'row');
    for (const cls of ['num', 'num', '', '', 'num', 'num', '', 'cmd', '']) {
      const span = document.createElement('span');
      span.setAttribute('role', 'cell');
      if (cls) span.className = cls;
      tr.appendChild(span);
    }
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'kill';
    b.textContent = 'End';
    tr.lastChild.appendChild(b);
    return tr;
  })();
  function procRow(p) {
    const key = p.pid + ':' + p.started;
    let r = rowCache.get(key);
    if (!r) {
      const tr = rowProto.cloneNode(true);
      const c = tr.children;
      tr.dataset.pid = p.pid;
      c[0].textContent = p.pid;
      c[1].textContent = p.ppid;
      c[2].textContent = p.name;
      c[3].textContent = p.user || '';
      const cpu = c[4], rss = c[5];
      cpu.textContent = p.cpu.toFixed(1);
      rss.textContent = bytes(p.rss);
      c[6].textContent = when(p.started);
      c[7].textContent = p.command || '';
      c[7].title = p.command || '';
      const b = c[8].firstChild;
      b.dataset.pid = p.pid;
      b.dataset.started = p.started;
      b.dataset.name = p.name;
      r = { tr, cpu, rss, cpuV: p.cpu, rssV: p.rss };
    } else {
      if (r.cpuV !== p.cpu) { r.cpu.textContent = p.cpu.toFixed(1); r.cpuV = p.cpu; }
      if (r.rssV !== p.rss) { r.rss.textContent = bytes(p.rss); r.rssV = p.rss; }
    }
    return [key, r];
  }

  // renderProcesses replaces the table's rows with list, sorted and
  // filtered as the technician chose, and returns how many it shows. It
  // is what the 1,000-row benchmark times (window.peerdeskRenderProcesses).
  function renderProcesses(list) {
    procs = list;
    const f = $('proc-filter').value.trim().toLowerCase();
    const shown = list.filter((p) => procMatches(p, f)).sort(compare);
    const next = new Map();
    const order = [];
    for (const p of shown) {
      const [key, r] = procRow(p);
      next.set(key, r);
      order.push(r.tr);
    }
    // Moving rows costs a layout of them all: only when the order changed.
    const same = order.length === procRows.childElementCount && order.every((tr, i) => procRows.children[i] === tr);
    if (!same) {
      const frag = document.createDocumentFragment();
      for (const tr of order) frag.appendChild(tr);
      procRows.replaceChildren(frag);
    }
    // Rows of processes still listed but filtered out are kept for later.
    for (const p of list) {
      const key = p.pid + ':' + p.started;
      if (!next.has(key) && rowCache.has(key)) next.set(key, rowCache.get(key));
    }
    rowCache = next;
    $('proc-count').textContent = shown.length === list.length ? list.length + ' processes' : shown.length + ' of ' + list.length + ' processes';
    for (const th of procHeads) {
      if (th.dataset.key === sortKey) th.setAttribute('aria-sort', sortDesc ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    }
    return shown.length;
  }
  window.peerdeskRenderProcesses = renderProcesses;

  for (const th of procHeads) {
    th.addEventListener('click', () => {
      if (sortKey === th.dataset.key) sortDesc = !sortDesc;
      else { sortKey = th.dataset.key; sortDesc = th.dataset.num === '1'; }
      renderProcesses(procs);
    });
  }
  $('proc-filter').addEventListener('input', () => renderProcesses(procs));

  async function refreshProcesses() {
    clearTimeout(procTimer);
    if (current !== 'processes' || procStopped || document.hidden) return;
    if (procBusy) return;
    procBusy = true;
    try {
      const r = await api('GET', '/processes');
      const l = await r.json();
      showError('proc-error', null);
      renderProcesses(l.processes || []);
      $('proc-status').textContent = 'Live: refreshed ' + new Date().toLocaleTimeString() + (l.truncated ? ' (list cut at the limit)' : '');
    } catch (e) {
      showError('proc-error', e);
      if (e.status === 403 || e.status === 404) procStopped = true; // no refusal loop
    } finally {
      procBusy = false;
    }
    if (!procStopped) procTimer = setTimeout(refreshProcesses, 2000);
  }
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshProcesses(); });

  // Ending a process asks first, in the page.
  let pending = null;
  procRows.addEventListener('click', (ev) => {
    const b = ev.target.closest('button.kill');
    if (!b) return;
    pending = { pid: Number(b.dataset.pid), started: Number(b.dataset.started), name: b.dataset.name };
    $('proc-confirm-text').textContent = 'End ' + pending.name + ' (process ' + pending.pid + ')? Unsaved work in it is lost. ';
    $('proc-confirm').hidden = false;
    $('proc-confirm-yes').focus();
  });
  $('proc-confirm-no').addEventListener('click', () => { pending = null; $('proc-confirm').hidden = true; });
  $('proc-confirm-yes').addEventListener('click', async () => {
    if (!pending) return;
    const k = pending;
    pending = null;
    $('proc-confirm').hidden = true;
    try {
      const r = await api('POST', '/processes/kill', { pid: k.pid, started: k.started });
      const res = await r.json();
      showError('proc-error', null);
      $('proc-status').textContent = 'Ended ' + res.name + ' (process ' + res.pid + ').';
    } catch (e) {
      showError('proc-error', e);
    }
    refreshProcesses();
  });

  // ---- services ----
  let services = [];
  function renderServices() {
    const f = $('svc-filter').value.trim().toLowerCase();
    const frag = document.createDocumentFragment();
    for (const s of services) {
      if (f && !s.name.toLowerCase().includes(f) && !(s.description || '').toLowerCase().includes(f)) continue;
      const tr = document.createElement('tr');
      tr.dataset.name = s.name;
      cell(tr, s.name);
      cell(tr, s.description || '');
      cell(tr, s.state + (s.sub_state ? ' (' + s.sub_state + ')' : ''), 'state');
      cell(tr, s.enabled || '');
      const td = document.createElement('td');
      td.className = 'actions';
      for (const a of ['start', 'stop', 'restart']) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'svc-' + a;
        b.dataset.action = a;
        b.dataset.name = s.name;
        b.textContent = a[0].toUpperCase() + a.slice(1);
        td.appendChild(b);
      }
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    $('svc-rows').replaceChildren(frag);
  }
  async function loadServices() {
    try {
      const r = await api('GET', '/services');
      services = (await r.json()).services || [];
      showError('svc-error', null);
      renderServices();
    } catch (e) {
      showError('svc-error', e);
    }
  }
  $('svc-filter').addEventListener('input', renderServices);
  $('svc-rows').addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    const row = b.closest('tr');
    for (const x of row.querySelectorAll('button')) x.disabled = true;
    $('svc-status').textContent = b.dataset.action + ' ' + b.dataset.name + '…';
    try {
      const r = await api('POST', '/services', { name: b.dataset.name, action: b.dataset.action });
      const res = await r.json();
      showError('svc-error', null);
      const i = services.findIndex((s) => s.name === res.service.name);
      if (i >= 0) services[i] = res.service;
      $('svc-status').textContent = 'Done: ' + b.dataset.action + ' ' + res.service.name + ', now ' + res.service.state + '.';
      renderServices();
    } catch (e) {
      showError('svc-error', e);
      $('svc-status').textContent = '';
      for (const x of row.querySelectorAll('button')) x.disabled = false;
    }
  });

  // ---- applications ----
  let apps = [], appsLoaded = false;
  function renderApps() {
    const f = $('app-filter').value.trim().toLowerCase();
    const frag = document.createDocumentFragment();
    let n = 0;
    for (const a of apps) {
      if (f && !a.name.toLowerCase().includes(f) && !(a.publisher || '').toLowerCase().includes(f) && !(a.description || '').toLowerCase().includes(f)) continue;
      n++;
      const tr = document.createElement('tr');
      cell(tr, a.name);
      cell(tr, a.version || '');
      cell(tr, a.architecture || '');
      cell(tr, a.publisher || '');
      cell(tr, a.installed || '');
      cell(tr, bytes(a.size), 'num');
      cell(tr, a.description || '');
      frag.appendChild(tr);
    }
    $('app-rows').replaceChildren(frag);
    $('app-count').textContent = n + ' of ' + apps.length + ' applications';
  }
  async function loadApps() {
    try {
      const r = await api('GET', '/apps');
      const l = await r.json();
      apps = l.apps || [];
      appsLoaded = true;
      showError('app-error', null);
      const notes = $('app-notes');
      notes.replaceChildren();
      for (const t of (l.notes || []).concat(l.truncated ? ['The list was cut at the limit.'] : [])) {
        const li = document.createElement('li');
        li.textContent = t;
        notes.appendChild(li);
      }
      renderApps();
    } catch (e) {
      showError('app-error', e);
    }
  }
  $('app-filter').addEventListener('input', renderApps);

  // ---- logs: filtered by level and time, streamed in ----
  const levels = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'];
  let logAbort = null;
  $('log-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (logAbort) logAbort.abort();
    logAbort = new AbortController();
    const q = { priority: Number($('log-level').value), limit: Number($('log-limit').value) || 500 };
    if ($('log-since').value) q.since = new Date($('log-since').value).toISOString();
    if ($('log-until').value) q.until = new Date($('log-until').value).toISOString();
    const rows = $('log-rows');
    rows.replaceChildren();
    showError('log-error', null);
    $('log-status').textContent = 'Reading…';
    let n = 0;
    try {
      const r = await fetch(base + '/logs', {
        method: 'POST', credentials: 'same-origin', signal: logAbort.signal,
        headers: { 'Content-Type': 'application/json', 'X-Peerdesk-CSRF': cfg.csrf }, body: JSON.stringify(q),
      });
      if (!r.ok) {
        const j = await r.json().catch(() => ({}));
        const e = new Error(j.message || r.statusText);
        e.status = r.status;
        throw e;
      }
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '', end = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (value) buf += dec.decode(value, { stream: true });
        let i;
        const frag = document.createDocumentFragment();
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line.trim()) continue;
          const l = JSON.parse(line);
          if (l.end) { end = l.end; continue; }
          const e = l.entry;
          const tr = document.createElement('tr');
          tr.className = 'pri-' + e.priority;
          tr.dataset.priority = e.priority;
          cell(tr, new Date(e.time).toLocaleString());
          cell(tr, levels[e.priority] || String(e.priority));
          cell(tr, (e.source || '') + (e.pid ? '[' + e.pid + ']' : ''));
          cell(tr, e.message);
          frag.appendChild(tr);
          n++;
        }
        rows.appendChild(frag);
        $('log-status').textContent = n + ' entries…';
        if (done) break;
      }
      let s = n + (n === 1 ? ' entry' : ' entries') + ', newest first';
      if (end && end.truncated) s += ' (more exist: narrow the range or raise the limit)';
      if (end && end.error) s += '. ' + end.error;
      if (!end) s += '. The stream ended early.';
      $('log-status').textContent = s + '.';
    } catch (e) {
      if (e.name === 'AbortError') return;
      showError('log-error', e);
      $('log-status').textContent = '';
    }
  });

  select('processes');
})();
