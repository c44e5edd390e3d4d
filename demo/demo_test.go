package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness"
	"github.com/peerdesk/peerdesk/harness/netns"
)

func TestMain(m *testing.M) { netns.Main(m) }

// lockedBuffer is the demo's story, read while it is written.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDemo runs `just demo` as it runs for a person (in a network namespace
// of its own, on the binaries of this tree): it must tell the whole story,
// end with the live screen, a file pushed and pulled back and a shell
// command's output, and leave real screenshots.
func TestDemo(t *testing.T) {
	harness.Begin(t)
	netns.NowhereLink(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Skip("SKIP: no Chromium (just deps installs it)")
	}
	var out lockedBuffer
	data := t.TempDir() // PEERDESK_DEMO_DATA keeps the run (its shots) where it names
	if d := os.Getenv("PEERDESK_DEMO_DATA"); d != "" {
		data = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := Run(ctx, Config{Bin: harness.Binaries(t), Data: data, Listen: "127.0.0.1:18443", ViewerListen: "127.0.0.1:7071",
		Chromium: "/usr/bin/chromium", Out: &out, Timeout: harness.Timeout})
	story := out.String()
	if err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, story)
	}
	for _, want := range []string{"code ", "the technician sees the end user's screen", "pulled it back: identical", "screenshot: "} {
		if !strings.Contains(story, want) {
			t.Errorf("the demo did not say %q:\n%s", want, story)
		}
	}
	host, _ := os.Hostname() //nolint:errcheck // "" fails the check below
	if !strings.Contains(story, "@"+host+": Linux") {
		t.Errorf("the shell command's output is missing:\n%s", story)
	}
	shots, err := filepath.Glob(filepath.Join(data, "shots", "*.png"))
	if err != nil || len(shots) < 4 {
		t.Fatalf("screenshots %v (%v), want 4\n%s", shots, err, story)
	}
	for _, s := range shots {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}
