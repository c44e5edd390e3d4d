// Live updates for the dashboard's Support tab (W1).
//
// The page works without this script. With it, the board (#board) listens
// on the server's event stream and is replaced by the server's fresh
// rendering — the same templ component as the page, so already escaped —
// whenever it changes. "board" events carry that HTML, with its version as
// the event id (the browser sends it back as Last-Event-ID when it
// reconnects); "logout" means the session ended.
(function () {
  'use strict';
  var board = document.getElementById('board');
  if (!board || !window.EventSource) {
    return;
  }
  var url = board.getAttribute('data-events') + '?v=' +
    encodeURIComponent(board.getAttribute('data-version') || '');
  var source = new EventSource(url);
  source.addEventListener('board', function (e) {
    var t = document.createElement('template');
    t.innerHTML = e.data;
    board.replaceChildren(t.content);
    board.setAttribute('data-version', e.lastEventId);
  });
  source.addEventListener('logout', function () {
    source.close();
    window.location.reload();
  });
  window.addEventListener('pagehide', function () {
    source.close();
  });
})();
