package web

import (
	_ "embed"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Live stream limits.
const (
	maxStreamsPerSession = 4   // a few tabs of the Support tab
	maxStreams           = 256 // all sessions together
	keepAlive            = 15 * time.Second
	streamRetry          = "2000" // ms before the browser reconnects
)

// streamLimit counts the live streams open per session and in all.
type streamLimit struct {
	mu    sync.Mutex
	per   map[string]int
	total int
}

func newStreamLimit() *streamLimit { return &streamLimit{per: map[string]int{}} }

func (l *streamLimit) acquire(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.per[key] >= maxStreamsPerSession || l.total >= maxStreams {
		return false
	}
	l.per[key]++
	l.total++
	return true
}

func (l *streamLimit) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.per[key]--; l.per[key] <= 0 {
		delete(l.per, key)
	}
	l.total--
}

// handleEvents streams the Support tab's board as server-sent events. It
// sends a "board" event — the board's HTML, with its version as the event
// id — whenever the version differs from the last one the browser has
// (?v= on the first connection, Last-Event-ID on reconnections): at once,
// then at each change the desk announces (Desk.Changed), and at each
// RefreshEvery for what changes without an event. It ends when the
// browser goes, and sends "logout" and ends when the technician's session
// does (checked at each refresh and each change).
func (s *server) handleEvents(w http.ResponseWriter, r *http.Request, sess session) {
	if _, err := s.desk.Board(sess.caller); err != nil {
		status, msg := s.deskFailure("opening the live board", err)
		s.errorPage(w, r, status, &sess.nav, "Not available", msg)
		return
	}
	key := s.csrfToken(purposeSession, sess.token) // names the session without keeping its token
	if !s.streams.acquire(key) {
		s.errorPage(w, r, http.StatusTooManyRequests, &sess.nav, "Too many live views", "Too many Support tabs are open; close some and reload.")
		return
	}
	defer s.streams.release(key)
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("v")
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(msg string) bool {
		if _, err := io.WriteString(w, msg); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: " + streamRetry + "\n\n") {
		return
	}
	tick := time.NewTicker(s.refresh)
	defer tick.Stop()
	for {
		// Take the change channel before reading the board: a change
		// after the read closes it, so none is missed.
		changed := s.desk.Changed()
		if _, err := s.be.Session(sess.token); err != nil {
			send("event: logout\ndata: \n\n")
			return
		}
		if board, err := s.desk.Board(sess.caller); err != nil {
			s.log.Warn("web: live board", "err", err)
		} else if html, version, err := renderBoard(r.Context(), s.boardView(board, sess)); err != nil {
			s.log.Warn("web: rendering the live board", "err", err)
		} else if version != last {
			if !send(event("board", version, html)) {
				return
			}
			last = version
		}
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		case <-tick.C:
			// A comment keeps proxies from timing the stream out.
			if !send(": keep-alive\n\n") {
				return
			}
		}
	}
}

// event formats a server-sent event. Every line of data gets its own
// "data:" field — CR, LF and CRLF all end a line in the stream — so no
// text in the board can start a field of its own.
func event(name, id, data string) string {
	var b strings.Builder
	b.WriteString("event: " + name + "\nid: " + id + "\n")
	data = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(data)
	for line := range strings.SplitSeq(data, "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.String()
}

// supportJS enhances the Support tab with live updates.
//
//go:embed static/support.js
var supportJS []byte

func handleScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(supportJS) //nolint:errcheck // client gone
	}
}
