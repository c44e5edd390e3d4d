'use strict';
// The chat with the help desk assistant: the answer streams in token by
// token (newline-delimited JSON read from the POST's body); a proposed fix
// shows exactly what will run, with Approve and Decline.
(function () {
  const base = document.body.dataset.base;
  const log = document.getElementById('chatlog');
  const form = document.getElementById('chatform');
  const input = document.getElementById('chatinput');
  const sendBtn = document.getElementById('chatsend');
  let turns = 0;

  function el(tag, cls, text, parent) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    (parent || log).appendChild(e);
    return e;
  }
  function post(path, body) {
    return fetch(base + path, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
  }

  function proposal(ev, turn) {
    const d = el('div', 'proposal', undefined, turn);
    d.dataset.id = ev.id;
    el('p', '', 'Proposed fix: ' + ev.tool + (ev.reason ? ' \u2014 ' + ev.reason : ''), d);
    el('p', 'muted', 'If you approve, this runs on your computer, exactly:', d);
    el('pre', 'plan', ev.command, d);
    const row = el('p', 'actions', undefined, d);
    const ok = el('button', 'primary approve', 'Approve', row);
    const no = el('button', 'decline', 'Decline', row);
    ok.type = no.type = 'button';
    const res = el('p', 'result', '', d);
    ok.addEventListener('click', async () => {
      ok.disabled = no.disabled = true;
      res.textContent = 'Running\u2026';
      try {
        const r = await post('chat/approve', { id: ev.id });
        const e = await r.json();
        res.textContent = e.type === 'ran' ? 'Done: ' + e.text : e.text;
        res.classList.add(e.type === 'ran' ? 'ran' : 'problem');
      } catch (err) {
        res.textContent = 'The fix could not be sent: ' + err;
        res.classList.add('problem');
      }
      d.dataset.state = 'done';
    });
    no.addEventListener('click', async () => {
      // Closed at once here; the agent closes it too (it can no longer be
      // approved) and tells the help desk.
      ok.disabled = no.disabled = true;
      res.textContent = 'Declined: nothing ran.';
      try {
        const r = await post('chat/decline', { id: ev.id });
        const e = await r.json();
        if (e.type !== 'declined') {
          res.textContent = e.text;
          res.classList.add('problem');
        }
      } catch (err) {
        res.textContent = 'Declined here: nothing ran (the help desk could not be told: ' + err + ')';
      }
      d.dataset.state = 'declined';
    });
  }

  async function ask(text) {
    const t0 = performance.now();
    const n = ++turns;
    const turn = el('div', 'turn');
    turn.id = 'turn-' + n;
    const mine = el('p', 'msg mine', text, turn);
    let answer = null, tokens = 0;
    function handle(ev) {
      switch (ev.type) {
        case 'token':
          if (!answer) {
            answer = el('p', 'msg theirs', '', turn);
            if (!turn.dataset.firstMs) turn.dataset.firstMs = (performance.now() - t0).toFixed(1);
          }
          answer.textContent += ev.text;
          turn.dataset.tokens = String(++tokens);
          break;
        case 'diagnostic':
          el('p', 'muted diag', ev.text || 'Checking ' + ev.tool + '\u2026', turn);
          answer = null;
          break;
        case 'proposal':
          proposal(ev, turn);
          answer = null;
          break;
        case 'refused':
          el('p', 'muted refused', 'Not allowed here: ' + ev.tool + (ev.reason ? ' (' + ev.reason + ')' : ''), turn);
          answer = null;
          break;
        case 'unavailable':
        case 'off':
          el('p', 'problem offline', ev.text, turn);
          if (ev.contacts) el('p', 'contacts', 'Need help now? ' + ev.contacts, turn);
          if (ev.type === 'unavailable') {
            mine.classList.add('queued');
            el('span', 'muted queuedmark', ' (queued: it is sent when the help desk is back)', mine);
          }
          break;
        case 'error':
          el('p', 'problem', ev.text, turn);
          break;
      }
    }
    try {
      const r = await post('chat/send', { text: text });
      if (!r.ok) throw new Error(await r.text());
      const rd = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await rd.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (l) handle(JSON.parse(l));
        }
      }
    } catch (err) {
      handle({ type: 'error', text: 'The message could not be sent: ' + err.message });
    }
    turn.dataset.done = '1';
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    sendBtn.disabled = true;
    try { await ask(text); } finally { sendBtn.disabled = false; input.focus(); }
  });
})();
