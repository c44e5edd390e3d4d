package web

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/desk"
	"github.com/peerdesk/peerdesk/coordinator/support"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

// stream is a live board stream read line by line in the background.
type stream struct {
	resp  *http.Response
	lines chan string
}

func openStream(ctx context.Context, t *testing.T, srv *httptest.Server, token, query string, hdr ...string) *stream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/support/desk/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: token})
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{resp: resp, lines: make(chan string, 1024)}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		close(s.lines)
		return s
	}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	return s
}

func (s *stream) close() { s.resp.Body.Close() }

// next reads the next event (its lines up to the blank line).
func (s *stream) next(t *testing.T) []string {
	t.Helper()
	var ev []string
	timeout := time.After(wait.Timeout)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				if len(ev) == 0 {
					return nil
				}
				return ev
			}
			if l == "" {
				return ev
			}
			ev = append(ev, l)
		case <-timeout:
			t.Fatalf("no event within %v; so far %q", wait.Timeout, ev)
		}
	}
}

var pageVersion = regexp.MustCompile(`data-version="([0-9a-f]+)"`)

func TestEvents(t *testing.T) {
	leak.Check(t)
	f, d := newFake(), newFakeDesk()
	b := newSupportBrowser(t, supportConfig(f, d, ""))
	srv := httptest.NewServer(b.h)
	// Streams end with their requests' context, so that a failing test
	// does not wait for them forever in srv.Close.
	ctx, cancel := context.WithCancel(context.Background())
	defer srv.Close()
	defer cancel()
	b.login("bob")
	token := b.cookies[SessionCookie].Value
	_, body := b.do("GET", "/support/desk", nil)
	v := pageVersion.FindStringSubmatch(body)
	if v == nil {
		t.Fatal("the page has no board version")
	}

	s := openStream(ctx, t, srv, token, "?v="+v[1])
	if s.resp.StatusCode != http.StatusOK || s.resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %q", s.resp.StatusCode, s.resp.Header.Get("Content-Type"))
	}
	if ev := s.next(t); len(ev) != 1 || ev[0] != "retry: 2000" {
		t.Fatalf("first event %q", ev)
	}
	// A change event that leaves this technician's board as it was
	// sends nothing. The stream re-reading the board is the event: an
	// event would have been written before that read's successor began
	// (and one read late would be the next event below, which must be
	// the change's: the stream is ordered). No time passes, so no
	// refresh happens.
	calls := d.BoardCalls()
	for i := 1; i <= 3; i++ {
		d.touch()
		wait.For(t, "the stream to re-read an unchanged board", func() bool { return d.BoardCalls() >= calls+i })
	}
	select {
	case l := <-s.lines:
		t.Fatalf("an unchanged board was sent: %q", l)
	default:
	}

	d.addCode(wire.SupportCode{Code: "909090", Kind: support.KindTechnician, State: support.Waiting, Assignee: "bob", Created: t0})
	ev := s.next(t)
	if len(ev) < 3 || ev[0] != "event: board" || !strings.HasPrefix(ev[1], "id: ") || ev[1] == "id: "+v[1] {
		t.Fatalf("event after a change: %q", ev[:min(len(ev), 3)])
	}
	current := ev[1]
	data := strings.Join(ev[2:], "\n")
	if !strings.HasPrefix(ev[2], "data: ") || !strings.Contains(data, `id="code-909090"`) || !strings.Contains(data, `id="mine-title"`) {
		t.Errorf("the event does not carry the new board:\n%s", data)
	}
	if strings.Contains(data, "<html") || strings.Contains(data, "<nav") {
		t.Error("the event carries a whole page, not the board")
	}

	// A reconnecting browser names the version it has; an older one gets
	// the board at once.
	s2 := openStream(ctx, t, srv, token, "?v="+v[1], "Last-Event-ID", "stale")
	s2.next(t) // retry
	if ev := s2.next(t); len(ev) < 2 || ev[0] != "event: board" || ev[1] != current {
		t.Errorf("a stale reconnection got %q", ev[:min(len(ev), 2)])
	}

	// Streams per session are bounded; a closed one frees its place.
	var more []*stream
	for range maxStreamsPerSession - 2 {
		more = append(more, openStream(ctx, t, srv, token, ""))
	}
	over := openStream(ctx, t, srv, token, "")
	if over.resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("stream %d: status %d, want 429", maxStreamsPerSession+1, over.resp.StatusCode)
	}
	s2.close()
	wait.For(t, "a closed stream to free its place", func() bool {
		again := openStream(ctx, t, srv, token, "")
		if again.resp.StatusCode != http.StatusOK {
			return false
		}
		more = append(more, again)
		return true
	})

	// Logging out ends every stream with a "logout" event (the desk
	// announces a logout as a change).
	f.Logout(desk.Caller{}, token) //nolint:errcheck // the fake never fails
	d.touch()
	for _, st := range append(more, s) {
		var got []string
		for ev := st.next(t); ev != nil; ev = st.next(t) {
			got = ev
		}
		if len(got) == 0 || got[0] != "event: logout" {
			t.Errorf("last event after logout: %q", got)
		}
	}
}

func TestEventFormat(t *testing.T) {
	got := event("board", "v1", "<p>a\rb</p>\r\nevent: logout\n\ndata")
	want := "event: board\nid: v1\ndata: <p>a\ndata: b</p>\ndata: event: logout\ndata: \ndata: data\n\n"
	if got != want {
		t.Errorf("event() = %q, want %q", got, want)
	}
}

func TestStreamLimit(t *testing.T) {
	l := newStreamLimit()
	for i := range maxStreamsPerSession {
		if !l.acquire("s") {
			t.Fatalf("stream %d of a session refused", i+1)
		}
	}
	if l.acquire("s") {
		t.Error("more than maxStreamsPerSession streams for a session")
	}
	l.release("s")
	if !l.acquire("s") {
		t.Error("a released place is not free")
	}
	for i := maxStreamsPerSession; i < maxStreams; i++ {
		if !l.acquire(strconv.Itoa(i)) {
			t.Fatalf("stream %d of all refused", i+1)
		}
	}
	if l.acquire("fresh") {
		t.Error("more than maxStreams streams")
	}
}

func TestScript(t *testing.T) {
	b := newSupportBrowser(t, supportConfig(newFake(), newFakeDesk(), ""))
	resp, body := b.do("GET", "/static/support.js", nil)
	wantStatus(t, "GET /static/support.js", resp, http.StatusOK)
	if resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(body, "new EventSource(") {
		t.Errorf("script: %q, %d bytes", resp.Header.Get("Content-Type"), len(body))
	}
}
