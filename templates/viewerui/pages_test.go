package viewerui

import (
	"context"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/templates/style"
)

// The home page's tables say what to do when they are empty, and every
// page links the shared stylesheet with no inline style.
func TestHomeEmptyStates(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := HomePage(Home{User: "bob", CSRF: "x"}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`id="no-sessions"`, `id="no-devices"`, `<link rel="stylesheet" href="` + style.Path + `">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the empty home page lacks %q", want)
		}
	}
	if strings.Contains(page, "<style") {
		t.Error("the home page carries an inline style")
	}
	b.Reset()
	if err := HomePage(Home{User: "bob", Devices: []Device{{ID: "d1", Hostname: "pc-1"}}}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `id="no-devices"`) {
		t.Error("a home page with machines shows the empty state")
	}
}
