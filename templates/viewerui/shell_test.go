package viewerui

import (
	"context"
	"strings"
	"testing"
)

// The device page links the machine's shell (in a tab of its own, so the
// screen stays); the shell page loads xterm.js and its script from the
// viewer, with no inline script or style.
func TestShellLinkAndPage(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := ScreenPage(Screen{Title: "pc-1", Device: "dev-1"}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<a id="open-shell" href="/device/dev-1/shell" target="_blank" rel="noopener">Shell</a>`) {
		t.Errorf("the device page does not link the shell:\n%s", b.String())
	}
	b.Reset()
	if err := ShellPage(ShellView{Title: "pc-1", Device: "dev-1", Config: `{"device":"dev-1"}`}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<script src="/static/xterm/xterm.js">`, `<script src="/static/shell.js">`, `href="/static/xterm/xterm.css"`, `data-config="{&#34;device&#34;:&#34;dev-1&#34;}"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the shell page lacks %q", want)
		}
	}
	if strings.Contains(page, "<style") || strings.Contains(page, "<script>") || strings.Contains(page, "style=") {
		t.Error("the shell page carries an inline script or style")
	}
}
