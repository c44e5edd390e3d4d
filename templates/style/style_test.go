package style

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestPathNamesContent(t *testing.T) {
	t.Parallel()
	s := sha256.Sum256(CSS())
	if want := "/static/peerdesk." + hex.EncodeToString(s[:6]) + ".css"; Path != want {
		t.Fatalf("Path = %q, want %q", Path, want)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	rec.Header().Set("Cache-Control", "no-store") // what the programs' wrappers set first
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), CSS()) {
		t.Fatalf("status %d, %d bytes; want 200 and the stylesheet", rec.Code, rec.Body.Len())
	}
	if got := rec.Header().Get("Cache-Control"); !strings.Contains(got, "max-age=31536000") || !strings.Contains(got, "immutable") {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := rec.Header().Get("Content-Type"); got != "text/css; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	again := httptest.NewRequest(http.MethodGet, Path, nil)
	again.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec2 := httptest.NewRecorder()
	Handler().ServeHTTP(rec2, again)
	if rec2.Code != http.StatusNotModified || rec2.Body.Len() != 0 {
		t.Errorf("revalidation: status %d, %d bytes; want 304 and none", rec2.Code, rec2.Body.Len())
	}
}

// TestBrandingHook: the variables the package doc promises are defined,
// and no rule below the hook names the accent colour itself.
func TestBrandingHook(t *testing.T) {
	t.Parallel()
	s := string(CSS())
	for _, v := range []string{"--accent:", "--accent-dark:", "--accent-fg:", "--danger:", "--logo:", "--logo-width:"} {
		if !strings.Contains(s, v) {
			t.Errorf("stylesheet lacks the branding variable %s", v)
		}
	}
	hook := regexp.MustCompile(`--accent:\s*(#[0-9a-fA-F]+)`).FindStringSubmatch(s)
	if hook == nil {
		t.Fatal("no --accent colour")
	}
	if n := strings.Count(s, hook[1]); n != 1 {
		t.Errorf("the accent colour %s appears %d times; rules must use var(--accent)", hook[1], n)
	}
}
