// Live updates for the dashboard's Tickets tab and ticket pages (T6).
//
// The pages work without this script. With it, the live part (#live)
// listens on the server's event stream and is replaced by the server's
// fresh rendering — the same templ component as the page, so already
// escaped — whenever it changes. "live" events carry that HTML, with its
// version as the event id (sent back as Last-Event-ID on reconnection);
// "logout" means the session ended.
(function () {
  'use strict';
  var live = document.getElementById('live');
  if (!live || !window.EventSource) {
    return;
  }
  var events = live.getAttribute('data-events');
  var url = events + (events.indexOf('?') < 0 ? '?' : '&') + 'v=' +
    encodeURIComponent(live.getAttribute('data-version') || '');
  var source = new EventSource(url);
  source.addEventListener('live', function (e) {
    var t = document.createElement('template');
    t.innerHTML = e.data;
    live.replaceChildren(t.content);
    live.setAttribute('data-version', e.lastEventId);
  });
  source.addEventListener('logout', function () {
    source.close();
    window.location.reload();
  });
  window.addEventListener('pagehide', function () {
    source.close();
  });
})();
