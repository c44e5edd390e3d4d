package leak

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Check reports instead of
// failing the real test, and runs cleanups when told.
type recorder struct {
	testing.TB
	cleanups []func()
	errs     []string
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// TestCheckFailsOnUnclosedServer: a test that starts an HTTP server with a
// live connection and does not close it fails the check, naming the
// server's goroutines; the same test that closes its server passes.
func TestCheckFailsOnUnclosedServer(t *testing.T) {
	run := func(closeIt bool) []string {
		r := &recorder{TB: t}
		Check(r)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		resp, err := srv.Client().Get(srv.URL) // a kept-alive connection: a serving goroutine
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if closeIt {
			srv.Client().CloseIdleConnections()
			srv.Close()
		}
		r.end()
		if !closeIt {
			srv.Client().CloseIdleConnections()
			srv.Close() // now, so this test itself leaks nothing
		}
		return r.errs
	}
	errs := run(false)
	if len(errs) == 0 {
		t.Fatal("a server left running passed the leak check")
	}
	if !strings.Contains(errs[0], "net/http") {
		t.Errorf("the report does not name the server's goroutines:\n%s", errs[0])
	}
	if errs := run(true); len(errs) != 0 {
		t.Errorf("a test that closed its server failed the check: %v", errs)
	}
}
