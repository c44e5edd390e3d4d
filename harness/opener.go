package harness

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/harness/wait"
)

// Opener stands in for the end user's desktop browser opener. The agent
// never prints the address of the end user's page (L4): it hands a
// one-time URL to the desktop's opener (xdg-open, which runs $BROWSER when
// no desktop is detected) when a technician asks and no page is showing,
// and a one-time support agent once at its start. The Opener records each
// URL it is handed, one a line in a file, so that a test can take it
// (Next) and open it in Chromium as the user's browser would. Each URL
// works once: the first GET sets the page's cookie in that browser.
//
// For an agent binary, Env puts the Opener in the environment; for an
// in-process agent, WithOpener makes it the agent's Browser.
type Opener struct {
	dir  string // holds the opener as xdg-open and as browser
	file string // the URLs, one a line

	mu    sync.Mutex
	taken int // URLs handed out by Next
}

// NewOpener writes the opener script into a temporary directory of t.
func NewOpener(t testing.TB) *Opener {
	t.Helper()
	dir := t.TempDir()
	o := &Opener{dir: dir, file: filepath.Join(dir, "urls")}
	if strings.ContainsAny(o.file, "'\n") {
		t.Fatalf("harness: the opener's file %q cannot be quoted for sh", o.file)
	}
	// The URL is the one argument; printf writes it as data, and one short
	// O_APPEND write is not interleaved with another's.
	script := "#!/bin/sh\n# peerdesk test harness: the end user's browser opener records the page's one-time URL\nprintf '%s\\n' \"$1\" >> '" + o.file + "'\n"
	for _, name := range []string{"browser", "xdg-open"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatalf("harness: writing the opener: %v", err)
		}
	}
	return o
}

// Env is the environment that makes an agent binary open the end user's
// page with o: BROWSER names it (what xdg-open runs on a machine without a
// desktop), and it comes first on PATH as xdg-open. The second is needed
// because xdg-open, given a display, first asks xdg-mime for the http
// handler and starts it (Chromium's .desktop file on this machine), which
// would spend the one-time URL in a browser no test drives.
func (o *Opener) Env() []string {
	return []string{
		"BROWSER=" + filepath.Join(o.dir, "browser"),
		"PATH=" + o.dir + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
}

// Open records url as the opener does; it is an in-process agent's
// Browser (WithOpener).
func (o *Opener) Open(url string) error {
	if strings.ContainsAny(url, "\r\n") {
		return fmt.Errorf("harness: opener: a URL with a line break: %q", url)
	}
	f, err := os.OpenFile(o.file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(url + "\n")
	return errors.Join(err, f.Close())
}

// URLs returns every URL opened so far, oldest first.
func (o *Opener) URLs(t testing.TB) []string {
	t.Helper()
	urls, err := o.read()
	if err != nil {
		t.Fatalf("harness: reading the opener's URLs: %v", err)
	}
	return urls
}

func (o *Opener) read() ([]string, error) {
	data, err := os.ReadFile(o.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	// Only whole lines: a line still being written is not a URL yet.
	s := string(data)
	if s = s[:strings.LastIndexByte(s, '\n')+1]; s == "" {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n"), nil
}

// Next waits until the agent has opened a URL that Next has not returned
// before, and returns it (the oldest such).
func (o *Opener) Next(t testing.TB) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	var url string
	wait.ForErr(t, fmt.Sprintf("the agent to open the end user's page (URL %d)", o.taken+1), func() error {
		urls, err := o.read()
		if err != nil {
			return err
		}
		if len(urls) <= o.taken {
			return fmt.Errorf("%d URLs opened, %d taken", len(urls), o.taken)
		}
		url = urls[o.taken]
		return nil
	})
	o.taken++
	return url
}

// WithOpener makes o the in-process agent's browser opener (without it
// the page opens nowhere): the end user's page is brought up through o
// when a technician asks and no page is showing.
func WithOpener(o *Opener) AgentOption {
	return func(c *agent.Config) { c.Browser = o.Open }
}
