package webui

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/peerdesk/peerdesk/harness/leak"
)

// The shell's WebSocket passes the page's guard (the cookie) and must come
// from the page's own origin: a page on another site cannot open a shell
// through the technician's browser, which would send the cookie along
// (SameSite=Lax does not cover WebSockets). A command asked for through
// the page is refused: the page opens interactive shells only.
func TestShellSocketRefusals(t *testing.T) {
	leak.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{addr: ln.Addr().String(), key: "k3y", log: slog.New(slog.DiscardHandler), shells: newShellSet()}
	mux := http.NewServeMux()
	s.routeShell(mux)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: s.guard(mux)}}
	srv.Start()
	t.Cleanup(func() { srv.Close(); s.shells.close() })

	upgrade := func(query, origin string, cookie bool) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/shell/dev-1?"+query, nil)
		for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} {
			req.Header.Set(k, v)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if cookie {
			req.AddCookie(&http.Cookie{Name: cookieName, Value: "k3y"})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, query, origin string
		cookie              bool
		want                int
	}{
		{"no cookie", "cols=80&rows=24", srv.URL, false, http.StatusUnauthorized},
		{"another site", "cols=80&rows=24", "http://evil.example", true, http.StatusForbidden},
		{"another port of this host", "cols=80&rows=24", "http://127.0.0.1:1", true, http.StatusForbidden},
		{"a command", "arg=id", srv.URL, true, http.StatusBadRequest},
		{"a bad size", "cols=0", srv.URL, true, http.StatusBadRequest},
	} {
		if got := upgrade(tc.query, tc.origin, tc.cookie); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
