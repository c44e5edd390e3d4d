package localui

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/agent/screen"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/wire"
)

func start(t *testing.T) *UI {
	t.Helper()
	u, err := Start(Config{Hostname: "pc-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

var versionAttr = regexp.MustCompile(`data-version="([0-9a-f]+)"`)

// version loads the page and returns the version it shows.
func version(t *testing.T, u *UI) string {
	t.Helper()
	resp, err := http.Get(u.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body) //nolint:errcheck // checked through the match
	m := versionAttr.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("page: %s, no data-version in %q", resp.Status, body)
	}
	return string(m[1])
}

// events opens the page's event stream as the page's script does and
// returns the first event's data on a channel.
func events(t *testing.T, u *UI, have string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", u.URL()+"events?v="+url.QueryEscape(have), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				got <- d
				return
			}
		}
	}()
	return got
}

// The event stream stays quiet while nothing changes and speaks the moment
// something does (no polling behind it: it waits on the change itself).
func TestEventsFollowChanges(t *testing.T) {
	leak.Check(t)
	u := start(t)
	v0 := version(t, u)
	got := events(t, u, v0)
	// Quiet for a stated span: no event proves "nothing is sent" (and one
	// sent late would be the event below, which must be the change's).
	wait.Holds(t, 300*time.Millisecond, "the stream quiet while nothing changes", func() bool { return len(got) == 0 })
	u.SetCode("123456")
	if d := wait.Recv(t, "an event after the code was set", got); d == v0 || d != version(t, u) {
		t.Fatalf("event %s; page was %s, is %s", d, v0, version(t, u))
	}
	// A page that is behind hears at once.
	if d := wait.Recv(t, "a stale page to hear the change", events(t, u, v0)); d == v0 {
		t.Fatalf("event repeats the old version %s", d)
	}
}

// Consent: Ask shows the question; the user's Allow answers it; the page
// changes with each step.
func TestAskAllow(t *testing.T) {
	leak.Check(t)
	u := start(t)
	v0 := version(t, u)
	changed := events(t, u, v0)
	answer := make(chan bool, 1)
	go func() {
		ok, err := u.Ask(context.Background(), screen.ConsentRequest{Technician: "alice", Capabilities: []wire.Capability{wire.CapScreen, wire.CapInput}})
		if err != nil {
			t.Error(err)
		}
		answer <- ok
	}()
	wait.Recv(t, "the question to change the page", changed)
	if u.State() != "asking" {
		t.Fatalf("state %q while asking", u.State())
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(u.URL()+"allow", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("allow answered %s", resp.Status)
	}
	if ok := wait.Recv(t, "Ask to return after Allow", answer); !ok {
		t.Fatal("Allow was taken as a refusal")
	}
}

// Only the literal loopback name: a page reached through another host name
// (DNS rebinding) is refused.
func TestHostChecked(t *testing.T) {
	leak.Check(t)
	u := start(t)
	req, err := http.NewRequest("GET", u.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "attacker.example:80"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a foreign Host got %s", resp.Status)
	}
}
