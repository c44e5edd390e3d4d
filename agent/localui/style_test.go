package localui

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/templates/style"
)

// The end user's page links the shared stylesheet, which the agent serves
// with the same bytes at the same path as the dashboard and the viewer,
// and its policy lets no inline style in.
func TestServesSharedStylesheet(t *testing.T) {
	leak.Check(t)
	e := start(t)
	c, page := e.browser(t)
	if body := get(t, c, page); !strings.Contains(body, `<link rel="stylesheet" href="`+style.Path+`"`) || strings.Contains(body, "<style") {
		t.Errorf("the page does not link the shared stylesheet alone:\n%s", body)
	}
	resp, err := http.Get("http://" + e.u.Addr() + style.Path) // no cookie: public bytes
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, style.CSS()) {
		t.Fatalf("GET %s: %s, %d bytes; want 200 and the shared stylesheet", style.Path, resp.Status, len(got))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}
