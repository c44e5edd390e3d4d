package webui

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/peerdesk/peerdesk/templates/style"
)

// The viewer serves the shared stylesheet's bytes at the shared path.
func TestServesSharedStylesheet(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	serveStatic(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, style.Path, nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), style.CSS()) {
		t.Fatalf("GET %s: status %d, %d bytes; want 200 and the shared stylesheet", style.Path, rec.Code, rec.Body.Len())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
}
