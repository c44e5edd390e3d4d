package desk_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/coordinator/enroll"
	"github.com/peerdesk/peerdesk/coordinator/web"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/harness/wait"
	"github.com/peerdesk/peerdesk/policy"
)

// A change to the support desk reaches an open live board at once: the
// dashboard's stream waits on the desk's change event, not on a poll (its
// refresh is an hour here, so only the event can bring the new code).
func TestBoardChangeReachesAnOpenStream(t *testing.T) {
	leak.Check(t)
	w := newWorld(t)
	h := web.New(web.Config{Backend: w.d, Desk: w.d, RefreshEvery: 1 << 62})
	srv := httptest.NewServer(h)
	ctx, cancel := context.WithCancel(context.Background())
	defer srv.Close()
	defer cancel()
	token, _ := w.caller(t, policy.RoleTechnician)

	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/support/desk/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	events := make(chan string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var ev strings.Builder
		for sc.Scan() {
			if sc.Text() == "" {
				events <- ev.String()
				ev.Reset()
				continue
			}
			ev.WriteString(sc.Text() + "\n")
		}
	}()
	wait.Recv(t, "the retry field", events)
	if first := wait.Recv(t, "the board as it is", events); !strings.HasPrefix(first, "event: board") {
		t.Fatalf("first event %q", first)
	}
	code, err := w.d.Ask(enroll.Device{ID: w.dev[true], Hostname: "front-desk"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := wait.Recv(t, "the board with the new request", events); !strings.Contains(ev, `id="request-`+code.Code+`"`) {
		t.Errorf("the event after the request does not list it:\n%s", ev)
	}
}
